-- wrk script for figure 3: POST /api/event with bodies and User-Agents from a file
-- (one "user-agent<TAB>json body" per line), counting what was sent and what was answered.
-- Usage: wrk ... -s bench/wrk_events.lua URL -- REQUESTS_FILE

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  requests, sent, accepted, dropped, other = {}, 0, 0, 0, 0
  for line in io.lines(args[1]) do
    local ua, body = line:match("^([^\t]*)\t(.*)$")
    requests[#requests + 1] = wrk.format("POST", "/api/event",
      { ["Content-Type"] = "text/plain", ["User-Agent"] = ua }, body)
  end
end

function request()
  sent = sent + 1
  return requests[(sent % #requests) + 1]
end

function response(status, headers, body)
  if status ~= 202 then
    other = other + 1
  elseif headers["x-beaconlake-dropped"] then
    dropped = dropped + 1
  else
    accepted = accepted + 1
  end
end

function done(summary, latency, _)
  local totals = { sent = 0, accepted = 0, dropped = 0, other = 0 }
  for _, thread in ipairs(threads) do
    for key, _ in pairs(totals) do
      totals[key] = totals[key] + thread:get(key)
    end
  end
  io.write(string.format(
    '{"sent": %d, "accepted": %d, "dropped": %d, "other": %d, "completed": %d, ' ..
    '"duration_s": %.3f, "socket_errors": %d, "p50_ms": %.3f, "p99_ms": %.3f}\n',
    totals.sent, totals.accepted, totals.dropped, totals.other, summary.requests,
    summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
