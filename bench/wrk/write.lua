-- PUT a new value (the next version) to one of BENCH_COUNT secrets named BENCH_PREFIX<i>, in turn.
-- Paths rotate so that two in-flight writes almost never race on one path (that would be a 409).
local prefix = os.getenv("BENCH_PREFIX")
local count = tonumber(os.getenv("BENCH_COUNT") or "1")
local token = os.getenv("BENCH_TOKEN")
local i = 0
if token and token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
wrk.headers["Content-Type"] = "application/json"

function request()
  i = (i + 1) % count
  return wrk.format("PUT", prefix .. i, nil, '{"value":"rotated-value-' .. i .. '-abcdefghijklmnopqrstuvwxyz0123456789"}')
end
