// The console's only way to fathom: the public GraphQL API at /api/graphql, with the operator's
// personal access token, as any front-end app. The token is kept as on the GraphiQL page: in
// this tab's sessionStorage by default (it survives a reload and goes with the tab), in
// localStorage with "Remember on this browser", until "Forget".

const KEY = "fathom.console.token";
const ENDPOINT = "/api/graphql";

// Storage may be switched off (private modes, policies): the token then lives in memory only.
function store(kind) {
  try {
    const s = window[kind];
    s.setItem(KEY + ".probe", "1");
    s.removeItem(KEY + ".probe");
    return s;
  } catch {
    return null;
  }
}
const local = store("localStorage");
const session = store("sessionStorage");
const read = (s) => (s && s.getItem(KEY)) || "";

let token = read(local) || read(session);
let remembered = !!read(local);

export const currentToken = () => token;
export const isRemembered = () => remembered;

/** Keeps `value` (a token alone, or pasted as "Bearer …" or "Authorization: Bearer …"). */
export function setToken(value, remember) {
  token = value
    .trim()
    .replace(/^authorization\s*:\s*/i, "")
    .replace(/^bearer\s+/i, "")
    .trim();
  remembered = !!remember;
  const [keep, drop] = remembered ? [local, session] : [session, local];
  try {
    keep && keep.setItem(KEY, token);
    drop && drop.removeItem(KEY);
  } catch {
    /* full or refused: memory still holds the token */
  }
}

/** Forgets the token everywhere. */
export function forgetToken() {
  token = "";
  remembered = false;
  for (const s of [local, session]) {
    try {
      s && s.removeItem(KEY);
    } catch {
      /* nothing to forget */
    }
  }
}

/** An error the API answered: its message, `extensions.code` and, for bad input, the field. */
export class ApiError extends Error {
  constructor(message, code, field, status) {
    super(message);
    this.code = code || null;
    this.field = field || null;
    this.status = status;
  }
}

/**
 * Runs `query` with `variables`; resolves to `data`, or rejects with the first error as an
 * ApiError (a 401 also tells the app, which asks for a token again).
 */
export async function gql(query, variables = {}) {
  let response;
  try {
    response = await fetch(ENDPOINT, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        Authorization: `Bearer ${token}`,
      },
      body: JSON.stringify({ query, variables }),
      credentials: "same-origin",
    });
  } catch {
    throw new ApiError("fathom could not be reached", "NETWORK");
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    /* not JSON: described below */
  }
  const first = body && body.errors && body.errors[0];
  if (response.status === 401) unauthorized.forEach((f) => f());
  if (first) {
    const ext = first.extensions || {};
    throw new ApiError(first.message, ext.code, ext.field, response.status);
  }
  if (!response.ok || !body) {
    throw new ApiError(`fathom answered HTTP ${response.status}`, `HTTP_${response.status}`, null, response.status);
  }
  return body.data;
}

const unauthorized = new Set();
/** Calls `f` whenever the API refuses the token. */
export function onUnauthorized(f) {
  unauthorized.add(f);
  return () => unauthorized.delete(f);
}

/**
 * Builds the arguments of a collection from `filters`, leaving out the unset ones, so that an
 * unset filter is no filter (an explicit null would mean "is null"). Returns `{decl, args,
 * variables}`: the variable declarations, the argument list and their values.
 */
export function collectionArgs(filters, types) {
  const decl = [];
  const args = [];
  const variables = {};
  for (const [name, value] of Object.entries(filters)) {
    if (value === undefined || value === null || value === "" || (Array.isArray(value) && !value.length)) continue;
    decl.push(`$${name}: ${types[name]}`);
    args.push(`${name}: $${name}`);
    variables[name] = value;
  }
  return {
    decl: decl.length ? `(${decl.join(", ")})` : "",
    args: args.length ? `(${args.join(", ")})` : "",
    variables,
  };
}

/** Every page of a collection, for a CSV download: `fetchPage(page)` → `{entities, page_info}`. */
export async function allPages(fetchPage) {
  const rows = [];
  for (let page = 1; ; page++) {
    const { entities, page_info: info } = await fetchPage(page);
    rows.push(...entities);
    if (page >= info.total_pages) return rows;
  }
}
