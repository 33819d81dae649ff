-- wrk script of `python -m bench race`: POST a GraphQL body built from a random line of a file.
--
--   wrk ... -s bench/race.lua URL -- BODIES [TOKEN]
--
-- BODIES: line 1 is the body's prefix, line 2 its suffix, every further line an item (a JSON value); a request's
-- body is prefix .. item .. suffix, the item drawn at random, so no two connections walk the same order and no
-- cache sees a fixed sequence. TOKEN, when given, is sent as a bearer token.
-- A 200 whose body carries GraphQL "errors" is counted apart: wrk counts only non-2xx answers as errors.
-- done() prints one line `RACE {json}` with the figures the race reads (latencies in microseconds).

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
  table.insert(threads, thread)
end

local prefix, suffix
local items = {}
graphql_errors = 0

function init(args)
  math.randomseed(os.time() * 1000 + seed)
  local n = 0
  for line in io.lines(args[1]) do
    n = n + 1
    if n == 1 then
      prefix = line
    elseif n == 2 then
      suffix = line
    else
      items[#items + 1] = line
    end
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  if args[2] then
    wrk.headers["Authorization"] = "Bearer " .. args[2]
  end
end

function request()
  return wrk.format(nil, nil, nil, prefix .. items[math.random(#items)] .. suffix)
end

function response(status, headers, body)
  if status == 200 and string.find(body, '"errors"', 1, true) then
    graphql_errors = graphql_errors + 1
  end
end

function done(summary, latency, requests)
  local errors = 0
  for _, thread in ipairs(threads) do
    errors = errors + thread:get("graphql_errors")
  end
  local e = summary.errors
  io.write(string.format(
    'RACE {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "mean_us": %.1f, "max_us": %d, '
      .. '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d, "graphql_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.mean,
    latency.max, e.connect, e.read, e.write, e.status, e.timeout, errors
  ))
end
