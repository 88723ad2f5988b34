-- wrk script for bench/pings.py: each request pings a random job; one JSON line at the end.
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  uuids = {}
  for line in io.lines(os.getenv("BENCH_UUIDS")) do
    uuids[#uuids + 1] = line
  end
  math.randomseed(os.time() * 1000 + id)
  method = os.getenv("BENCH_METHOD") or "GET"
end

function request()
  return wrk.format(method, "/ping/" .. uuids[math.random(#uuids)])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
