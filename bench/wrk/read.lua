-- GET one of BENCH_COUNT secrets named BENCH_PREFIX<i>, in turn, with BENCH_TOKEN as bearer (if set).
local prefix = os.getenv("BENCH_PREFIX")
local count = tonumber(os.getenv("BENCH_COUNT") or "1")
local token = os.getenv("BENCH_TOKEN")
local i = 0
if token and token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end

function request()
  i = (i + 1) % count
  return wrk.format("GET", prefix .. i)
end
