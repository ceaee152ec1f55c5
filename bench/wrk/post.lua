-- POST the same JSON body (BENCH_BODY) to BENCH_PATH, with BENCH_TOKEN as bearer if set.
local path = os.getenv("BENCH_PATH")
local body = os.getenv("BENCH_BODY")
local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
wrk.headers["Content-Type"] = "application/json"

function request()
  return wrk.format("POST", path, nil, body)
end
