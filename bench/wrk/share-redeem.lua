-- Redeems server-sealed shares in turn: one token per line in BENCH_TOKENS_FILE (no API token:
-- the share token is the credential). A file with one line hammers a single ShareObject.
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS_FILE")) do
  if line ~= "" then tokens[#tokens + 1] = line end
end
local i = 0
wrk.headers["Content-Type"] = "application/json"

function request()
  i = i % #tokens + 1
  return wrk.format("POST", "/api/v1/secrets/shares/redeem", nil, '{"token":"' .. tokens[i] .. '"}')
end
