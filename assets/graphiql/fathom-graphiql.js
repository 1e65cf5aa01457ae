// fathom's GraphiQL page: GraphiQL (React and GraphiQL are served by fathom itself) with a token
// field above it.
//
// The token: pasted once in the field; every request GraphiQL sends (the schema's introspection
// and the user's operations) carries `Authorization: Bearer <token>`, unless the Headers editor
// names an Authorization header itself. Setting or changing the token loads the schema again at
// once. Where it is kept is the user's choice: by default in this tab's sessionStorage (it
// survives a reload and goes when the tab is closed); with "Remember on this browser" in
// localStorage, until "Forget". GraphiQL itself never persists headers here
// (`shouldPersistHeaders: false`).
(function () {
  "use strict";

  var KEY = "fathom.graphiql.token";
  var page = document.getElementById("fathom-page");
  var endpoint = page.getAttribute("data-endpoint");
  var form = document.getElementById("fathom-token");
  var input = document.getElementById("fathom-token-input");
  var remember = document.getElementById("fathom-token-remember");
  var forget = document.getElementById("fathom-token-forget");
  var status = document.getElementById("fathom-token-status");

  var DEFAULT_QUERY =
    "# Paste a personal access token in the field above (`fathom token create --name NAME`\n" +
    "# prints one), then run this with Ctrl-Enter. The Docs button on the left shows the schema.\n" +
    "{\n" +
    "  accounts(paginator: {page: 1, records_per_page: 25}) {\n" +
    "    entities {\n" +
    "      id\n" +
    "      name\n" +
    "      account_status {\n" +
    "        name\n" +
    "      }\n" +
    "    }\n" +
    "    page_info {\n" +
    "      total_count\n" +
    "    }\n" +
    "  }\n" +
    "}\n";

  // Storage may be switched off (private modes, policies): the token then lives in memory only.
  function store(kind) {
    try {
      var s = window[kind];
      var probe = KEY + ".probe";
      s.setItem(probe, "1");
      s.removeItem(probe);
      return s;
    } catch (e) {
      return null;
    }
  }
  var local = store("localStorage");
  var session = store("sessionStorage");

  function read(s) {
    try {
      return (s && s.getItem(KEY)) || "";
    } catch (e) {
      return "";
    }
  }
  function write(s, value) {
    try {
      if (!s) return;
      if (value) s.setItem(KEY, value);
      else s.removeItem(KEY);
    } catch (e) {
      /* full or refused: memory still holds the token */
    }
  }

  // Accepts the token alone, or as pasted from a header ("Bearer fathom_…", "Authorization: …").
  function clean(text) {
    return text
      .trim()
      .replace(/^authorization\s*:\s*/i, "")
      .replace(/^bearer\s+/i, "")
      .trim();
  }

  var token = read(local);
  var remembered = token !== "";
  if (!token) token = read(session);

  function describe(note) {
    var where = !token
      ? ""
      : remembered
        ? "remembered on this browser"
        : "kept for this tab until it is closed";
    status.textContent = note || (token ? "Token set, " + where + "." : "No token yet.");
    status.className = "fathom-token-status" + (token ? " fathom-token-set" : "");
  }

  // The token goes to the storage the user chose and leaves the other one.
  function keep() {
    write(remembered ? local : session, token);
    write(remembered ? session : local, "");
  }

  function hasAuthorization(headers) {
    return Object.keys(headers).some(function (name) {
      return name.toLowerCase() === "authorization";
    });
  }

  function makeFetcher(current) {
    return function fetcher(params, options) {
      var headers = { "Content-Type": "application/json", Accept: "application/json" };
      var extra = (options && options.headers) || {};
      Object.keys(extra).forEach(function (name) {
        headers[name] = String(extra[name]);
      });
      if (!hasAuthorization(headers)) {
        if (!current) {
          return Promise.resolve({
            errors: [
              {
                message:
                  "No token yet: paste a personal access token in the field above " +
                  "(`fathom token create --name NAME` prints one).",
              },
            ],
          });
        }
        headers.Authorization = "Bearer " + current;
      }
      return fetch(endpoint, {
        method: "POST",
        headers: headers,
        body: JSON.stringify(params),
        credentials: "same-origin",
      }).then(function (response) {
        if (response.status === 401 && current === token) {
          describe("The server refused this token (revoked, deleted or mistyped).");
          status.className = "fathom-token-status fathom-token-refused";
        }
        return response.text().then(function (text) {
          try {
            return JSON.parse(text);
          } catch (e) {
            return { errors: [{ message: "HTTP " + response.status + ": " + text }] };
          }
        });
      });
    };
  }

  var root = ReactDOM.createRoot(document.getElementById("graphiql"));

  // A new fetcher makes GraphiQL introspect again: the schema loads as soon as a token is set.
  function render() {
    root.render(
      React.createElement(GraphiQL, {
        fetcher: makeFetcher(token),
        defaultQuery: DEFAULT_QUERY,
        shouldPersistHeaders: false,
      })
    );
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var value = clean(input.value);
    if (!value) {
      describe("Paste a token first.");
      return;
    }
    token = value;
    remembered = remember.checked;
    keep();
    input.value = "";
    input.placeholder = "token set (paste another to replace it)";
    describe();
    render();
  });

  remember.addEventListener("change", function () {
    remembered = remember.checked;
    if (token) keep();
    describe();
  });

  forget.addEventListener("click", function () {
    token = "";
    remembered = false;
    remember.checked = false;
    write(local, "");
    write(session, "");
    input.value = "";
    input.placeholder = "fathom_…  (fathom token create --name NAME)";
    describe();
    render();
  });

  remember.checked = remembered;
  if (token) input.placeholder = "token set (paste another to replace it)";
  if (!local) remember.disabled = true;
  describe();
  render();
})();
