// The benchmark's read peer: PostGraphile 5 (the amber preset) serving /graphql over one
// database from `--workers` processes sharing one port (node:cluster), as PostGraphile 4's
// `--cluster-workers 2` did. Reads only: no default mutations, no GraphiQL, no watch, no
// subscriptions, no explain. Started by bench/lib/servers.py with Node 22:
//
//   node bench/lib/postgraphile5.mjs --modules bench/.node --connection URL --port N
//        [--host 127.0.0.1] [--workers 2]
//
// `--modules` is the npm prefix PostGraphile 5 was installed into (bench/run). Each worker
// builds its schema first; the workers start listening once all of them are ready, so that
// the first request the port accepts finds them all able to answer.
import cluster from "node:cluster";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import path from "node:path";
import { parseArgs } from "node:util";

process.env.NODE_ENV ??= "production";

const { values: options } = parseArgs({
  options: {
    modules: { type: "string" },
    connection: { type: "string" },
    port: { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
    workers: { type: "string", default: "2" },
  },
});
if (!options.modules || !options.connection || !options.port) {
  console.error("usage: postgraphile5.mjs --modules DIR --connection URL --port N [--host H] [--workers N]");
  process.exit(2);
}

if (cluster.isPrimary) {
  const workers = Number(options.workers);
  let ready = 0;
  let stopping = false;
  for (let i = 0; i < workers; i++) {
    cluster.fork().on("message", (message) => {
      if (message === "ready" && ++ready === workers) {
        for (const worker of Object.values(cluster.workers)) worker.send("listen");
      }
    });
  }
  // A worker that dies takes the server with it: the benchmark wants all of them or none.
  cluster.on("exit", (worker, code, signal) => {
    if (stopping) return;
    console.error(`worker ${worker.process.pid} exited (${signal || code})`);
    stop(1);
  });
  // Stopping waits for the workers to be gone (10 s at most), so that none outlives a run.
  const stop = (code) => {
    stopping = true;
    const alive = Object.values(cluster.workers);
    let left = alive.length;
    if (left === 0) process.exit(code);
    for (const worker of alive) {
      worker.once("exit", () => --left === 0 && process.exit(code));
      worker.process.kill("SIGTERM");
    }
    setTimeout(() => process.exit(code), 10_000).unref();
  };
  process.on("SIGTERM", () => stop(0));
  process.on("SIGINT", () => stop(0));
} else {
  const require = createRequire(path.join(path.resolve(options.modules), "package.json"));
  const { postgraphile } = require("postgraphile");
  const { PostGraphileAmberPreset } = require("postgraphile/presets/amber");
  const { makePgService } = require("postgraphile/adaptors/pg");
  const { grafserv } = require("postgraphile/grafserv/node");
  const { jsonPgSmartTags } = require("postgraphile/utils");
  const pgl = postgraphile({
    extends: [PostGraphileAmberPreset],
    disablePlugins: ["PgMutationCreatePlugin", "PgMutationUpdateDeletePlugin"],
    // Version 5 offers a column in `condition` only when an index (not a partial one) has it
    // as a key; version 4 offered every column. accounts.archived_at is only in the predicate
    // of the partial index accounts_listed (id) WHERE archived_at IS NULL, the index the page
    // reads: the tag lets the page ask `condition: {archivedAt: null}` (archived_at IS NULL),
    // as it asked version 4.
    plugins: [jsonPgSmartTags({
      version: 1,
      config: { class: { "public.accounts": { attribute: { archived_at: { tags: { behavior: "+filterBy" } } } } } },
    })],
    pgServices: [makePgService({ connectionString: options.connection, schemas: ["public"], pubsub: false })],
    grafserv: { graphqlPath: "/graphql", graphiql: false, watch: false, websockets: false },
    grafast: { explain: false },
  });
  const serv = pgl.createServ(grafserv);
  const server = createServer();
  await serv.addTo(server);
  await pgl.getSchema();
  process.on("message", (message) => {
    if (message === "listen") server.listen({ port: Number(options.port), host: options.host });
  });
  process.send("ready");
}
