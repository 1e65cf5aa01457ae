-- wrk script for fathom's benchmark: POSTs GraphQL and counts failed answers.
--
-- Environment (read by every wrk thread):
--   BENCH_BODY      the JSON body to POST, for a fixed request; or
--   BENCH_TEMPLATE  a JSON body with the text ID in it, replaced by one id after another from
--   BENCH_IDS       a file of ids, one per line, dealt out across threads; a thread that has
--                   used its share stops, appending the time (ns) to the file BENCH_DONE, so
--                   that the caller can end wrk (SIGINT) once every thread has.
--   BENCH_BODIES    a file of JSON bodies, one per line, each thread cycling through them from
--                   its own starting line (varied pages and accounts, the same for every
--                   contender); or
--   BENCH_TOKEN     a bearer token (optional).
-- At the end it prints one line: BENCH {"failed": n, "sent": n, "requests": n, ...}.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  failed = 0
  sent = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  local token = os.getenv("BENCH_TOKEN")
  if token and token ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. token
  end
  template = os.getenv("BENCH_TEMPLATE")
  local bodies_file = os.getenv("BENCH_BODIES")
  if bodies_file then
    bodies = {}
    for line in io.lines(bodies_file) do
      table.insert(bodies, line)
    end
    next_body = (tid * 7919) % #bodies + 1
  elseif template then
    ids = {}
    local i = 0
    for line in io.lines(os.getenv("BENCH_IDS")) do
      if i % counter_total() == tid then
        table.insert(ids, line)
      end
      i = i + 1
    end
    next_id = 1
  else
    wrk.body = os.getenv("BENCH_BODY")
  end
end

function counter_total()
  return tonumber(os.getenv("BENCH_THREADS"))
end

function request()
  if bodies then
    local body = bodies[next_body]
    next_body = next_body % #bodies + 1
    sent = sent + 1
    return wrk.format(nil, nil, nil, body)
  end
  if template then
    if next_id > #ids then
      -- Nothing left for this thread: send a harmless request and stop on its answer.
      return wrk.format(nil, nil, nil, '{"query":"{ __typename }"}')
    end
    local body = template:gsub("ID", ids[next_id])
    next_id = next_id + 1
    sent = sent + 1
    return wrk.format(nil, nil, nil, body)
  end
  sent = sent + 1
  return wrk.request()
end

function response(status, headers, body)
  if template and next_id > #ids and body == '{"data":{"__typename":"Query"}}' then
    if not finished then
      finished = true
      local clock = io.popen("date +%s%N")
      local now = clock:read("*l")
      clock:close()
      local out = io.open(os.getenv("BENCH_DONE"), "a")
      out:write(now .. "\n")
      out:close()
    end
    wrk.thread:stop()
    return
  end
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    failed = failed + 1
  end
end

function done(summary, latency, requests)
  local total_failed, total_sent = 0, 0
  for _, thread in ipairs(threads) do
    total_failed = total_failed + thread:get("failed")
    total_sent = total_sent + thread:get("sent")
  end
  io.write(string.format(
    'BENCH {"failed": %d, "sent": %d, "requests": %d, "duration_us": %d, "socket_errors": %d, "p50_us": %d, "p99_us": %d}\n',
    total_failed, total_sent, summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout + summary.errors.status,
    latency:percentile(50), latency:percentile(99)))
end
