-- POST the JSON BENCH_BODY to BENCH_PATH with BENCH_TOKEN as bearer (if set), again and again.
local token = os.getenv("BENCH_TOKEN")
wrk.method = "POST"
wrk.path = os.getenv("BENCH_PATH")
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"
if token and token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
