-- Mixed load (issue 9): by weight 70% secret reads, 20% secret writes (the next version) and 10%
-- share traffic (a server-sealed one-view share is created; the thread's next share request
-- redeems the oldest unredeemed one, so creates and redeems are about 5% each), all with BENCH_TOKEN. Every request sent and every response seen is logged, one line
-- each, to BENCH_LOG-t<thread>.log, so bench/load.mjs can account for each version and share
-- afterwards. Values never reach the log: only statuses, paths, version numbers and share ids.
--   BENCH_PREFIX (e.g. /api/v1/secrets/store/bench/mix/s), BENCH_COUNT paths, BENCH_RUN (unique per run)
local prefix = os.getenv("BENCH_PREFIX")
local count = tonumber(os.getenv("BENCH_COUNT") or "200")
local run = os.getenv("BENCH_RUN") or "0"
local logPrefix = os.getenv("BENCH_LOG")
local token = os.getenv("BENCH_TOKEN")
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  thread:set("nthreads", 0) -- replaced below once every thread is known
  table.insert(threads, thread)
  for _, t in ipairs(threads) do t:set("nthreads", #threads) end
end

local log
local reads, writes, shares = 0, 0, 0
local pending = {} -- created shares not yet redeemed: { token, id }

function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0))
  log = io.open(string.format("%s-t%d.log", logPrefix, tid or 0), "w")
  log:setvbuf("line")
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local roll = math.random(100)
  if roll <= 70 then
    reads = reads + 1
    return wrk.format("GET", prefix .. (reads % count))
  elseif roll <= 90 then
    -- Each thread writes only its own paths, in turn, so two in-flight writes never share a path.
    writes = writes + 1
    local n = nthreads or 1
    local i = ((writes * n) + (tid or 0)) % count
    log:write("SW ", i, "\n")
    return wrk.format("PUT", prefix .. i, nil, '{"value":"load-' .. run .. '-' .. writes .. '-abcdefghijklmnopqrstuvwxyz0123456789"}')
  elseif #pending > 0 then
    local share = table.remove(pending, 1)
    log:write("SR ", share.id, "\n")
    return wrk.format("POST", "/api/v1/secrets/shares/redeem", nil, '{"token":"' .. share.token .. '"}')
  else
    shares = shares + 1
    log:write("SC\n")
    return wrk.format("POST", "/api/v1/secrets/shares", nil, '{"value":"load-share-' .. run .. '","max_views":1}')
  end
end

function response(status, headers, body)
  if status >= 300 then
    log:write("E ", status, " ", body:match('"type":"([^"]*)"') or "-", "\n")
  elseif body:find('"views_left":', 1, true) and body:find('"value":', 1, true) then
    local intact = body:match('"value":"([^"]*)"') == "load-share-" .. run
    log:write("D ", status, " ", intact and "intact" or "altered", " ", body:match('"views_left":(%d+)') or "?", "\n")
  elseif body:find('"token":"hshr_', 1, true) then
    local shareToken = body:match('"token":"([^"]+)"')
    local id = body:match('"id":"([^"]+)"')
    table.insert(pending, { token = shareToken, id = id })
    log:write("C ", status, " ", id, "\n")
  elseif body:find('"value":', 1, true) then
    log:write("R ", status, "\n")
  else
    log:write("W ", status, " ", body:match('"path":"([^"]+)"') or "?", " ", body:match('"version":(%d+)') or "?", "\n")
  end
end
