-- One kind of request for wrk, set by environment variables (bench/run sets them):
--   WRK_METHOD  GET (default) or POST
--   WRK_TOKEN   a bearer token for the Authorization header
--   WRK_COOKIE  a Cookie header (the pages' session)
--   WRK_BODY    a JSON body, sent with Content-Type: application/json
--   WRK_PATHS   paths separated by '|', taken in turn (default: the URL's own path)
-- At the end it prints one line that bench/run reads:
--   WRK rps=... p50_ms=... p99_ms=... requests=... errors=... status_errors=...
-- where errors counts connect, read, write and timeout errors and non-2xx/3xx answers.

local method = os.getenv("WRK_METHOD") or "GET"
local token = os.getenv("WRK_TOKEN")
local cookie = os.getenv("WRK_COOKIE")
local body = os.getenv("WRK_BODY")
local paths = {}
for path in string.gmatch(os.getenv("WRK_PATHS") or "", "[^|]+") do
  table.insert(paths, path)
end

local prepared = {}
local turn = 0

init = function(args)
  local headers = {}
  if token then headers["Authorization"] = "Bearer " .. token end
  if cookie then headers["Cookie"] = cookie end
  if body then headers["Content-Type"] = "application/json" end
  if #paths == 0 then
    prepared[1] = wrk.format(method, nil, headers, body)
  else
    for i, path in ipairs(paths) do
      prepared[i] = wrk.format(method, path, headers, body)
    end
  end
end

request = function()
  turn = turn % #prepared + 1
  return prepared[turn]
end

done = function(summary, latency, requests)
  local e = summary.errors
  local failed = e.connect + e.read + e.write + e.timeout + e.status
  io.write(string.format(
    "WRK rps=%.1f p50_ms=%.3f p99_ms=%.3f requests=%d errors=%d status_errors=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000,
    latency:percentile(99) / 1000,
    summary.requests, failed, e.status))
end
