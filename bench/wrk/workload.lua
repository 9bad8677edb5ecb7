-- wrk script for every benchmark workload. Configured through the environment (bench.py sets it):
--
--   BENCH_WORKLOAD  w1 | w2 | w3 | w4 | w5 | w6 | flood
--   BENCH_ACCESS    file of access tokens, one a line (w1, w2, w6): requests cycle through them
--   BENCH_REFRESH   file of unused refresh tokens, one a line (w3, w6): each is sent exactly once;
--                   wrk thread k of BENCH_THREADS takes lines k, k+T, k+2T, ...
--   BENCH_USERS     seeded users are user1@example.com .. userN@example.com (w4, w6)
--   BENCH_PASSWORD  their password
--   BENCH_TAG       makes w5's e-mails unique to this run: w5-<tag>-<thread>-<n>@example.com
--   BENCH_THREADS   wrk's -t
--   BENCH_OUT       where done() writes the JSON summary
--
-- W1 GET users/me/ with a bearer access token; W2 POST jwt/verify/; W3 POST jwt/refresh/ with a
-- distinct refresh token per request; W4 POST jwt/create/ (login as a random seeded user);
-- W5 POST users/ (registration, distinct e-mails); W6 a fixed 100-request cycle of 80 W1, 15 W3,
-- 4 W4 and 1 W5, interleaved. `flood` (bench.py --throttle): POST jwt/create/ with a wrong password for
-- a random unknown address, each request from a random client address in X-Forwarded-For (the server
-- is configured to trust it), so neither the per-client rate nor the account backoff stops it: only
-- the bounded hashing queue does.
--
-- Every response outside 200-299 is counted (wrk itself only counts >= 400) and the first few
-- are kept with their bodies. Running out of refresh tokens is counted too (the result is then
-- invalid: the thread stops).

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local workload = os.getenv("BENCH_WORKLOAD") or "w1"
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
local users = tonumber(os.getenv("BENCH_USERS") or "1")
local password = os.getenv("BENCH_PASSWORD") or ""
local tag = os.getenv("BENCH_TAG") or "x"
local register_password = "Tr1cky-Horse-Battery-9"

local ready = false
local access, refresh = {}, {}
local ai, ri, sent, slot = 0, 0, 0, 0
local json_headers = { ["Content-Type"] = "application/json" }

-- Per-thread tallies, read by done() through thread:get().
non2xx = 0
exhausted = 0
statuses = ""
samples = ""
local status_counts = {}
local kept = 0

local function read_lines(path, keep)
  local lines = {}
  if not path or path == "" then return lines end
  local file = assert(io.open(path, "r"), "cannot open " .. path)
  local n = 0
  for line in file:lines() do
    if line ~= "" then
      if keep(n) then lines[#lines + 1] = line end
      n = n + 1
    end
  end
  file:close()
  return lines
end

-- The W6 cycle: W3 at i % 20 in {1, 8, 15} (15), W4 at i % 25 == 12 (4), W5 at 50 (1), W1 else (80).
local cycle = {}
for i = 0, 99 do
  local kind = "w1"
  if i == 50 then
    kind = "w5"
  elseif i % 25 == 12 then
    kind = "w4"
  elseif i % 20 == 1 or i % 20 == 8 or i % 20 == 15 then
    kind = "w3"
  end
  cycle[i + 1] = kind
end

function init(args)
  local me = id or 0
  math.randomseed(os.time() + 7919 * me)
  if workload == "w1" or workload == "w2" or workload == "w6" then
    access = read_lines(os.getenv("BENCH_ACCESS"), function() return true end)
    -- Threads start at different places in the token list.
    ai = math.floor(#access * me / nthreads)
  end
  if workload == "w3" or workload == "w6" then
    refresh = read_lines(os.getenv("BENCH_REFRESH"), function(n) return n % nthreads == me end)
  end
  slot = (37 * me) % 100
  ready = true
end

local function me_request()
  ai = ai % #access + 1
  return wrk.format("GET", "/api/auth/users/me/", { ["Authorization"] = "Bearer " .. access[ai] })
end

local function verify_request()
  ai = ai % #access + 1
  return wrk.format("POST", "/api/auth/jwt/verify/", json_headers, '{"token":"' .. access[ai] .. '"}')
end

local function refresh_request()
  ri = ri + 1
  local token = refresh[ri]
  if not token then
    -- Out of unused tokens: resend the last one (it fails and is counted) and stop this thread.
    exhausted = exhausted + 1
    token = refresh[#refresh] or "none"
    wrk.thread:stop()
  end
  return wrk.format("POST", "/api/auth/jwt/refresh/", json_headers, '{"refresh":"' .. token .. '"}')
end

local function login_request()
  local email = "user" .. math.random(1, users) .. "@example.com"
  return wrk.format("POST", "/api/auth/jwt/create/", json_headers,
    '{"email":"' .. email .. '","password":"' .. password .. '"}')
end

local function register_request()
  sent = sent + 1
  local email = "w5-" .. tag .. "-" .. (id or 0) .. "-" .. sent .. "@example.com"
  return wrk.format("POST", "/api/auth/users/", json_headers,
    '{"email":"' .. email .. '","password":"' .. register_password ..
    '","re_password":"' .. register_password .. '"}')
end

local function flood_request()
  local client = "10." .. math.random(0, 255) .. "." .. math.random(0, 255) .. "." .. math.random(1, 254)
  local email = "flood" .. math.random(1, 1000000000) .. "@example.com"
  return wrk.format("POST", "/api/auth/jwt/create/",
    { ["Content-Type"] = "application/json", ["X-Forwarded-For"] = client },
    '{"email":"' .. email .. '","password":"wrong-password"}')
end

local builders = {
  w1 = me_request, w2 = verify_request, w3 = refresh_request, w4 = login_request, w5 = register_request,
  flood = flood_request,
}

function request()
  if not ready then
    -- wrk calls request() once in its main Lua state (no init there) to check the script.
    return wrk.format("GET", "/")
  end
  if workload == "w6" then
    slot = slot % 100 + 1
    return builders[cycle[slot]]()
  end
  return builders[workload]()
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    status_counts[status] = (status_counts[status] or 0) + 1
    local parts = {}
    for code, count in pairs(status_counts) do parts[#parts + 1] = code .. ":" .. count end
    statuses = table.concat(parts, ",")
    if kept < 3 then
      kept = kept + 1
      samples = samples .. status .. " " .. string.sub(body or "", 1, 400) .. "\n\30"
    end
  end
end

local function json_string(s)
  s = string.gsub(s, '[%c"\\]', function(c)
    if c == '"' then return '\\"' end
    if c == "\\" then return "\\\\" end
    return string.format("\\u%04x", string.byte(c))
  end)
  return '"' .. s .. '"'
end

function done(summary, latency, requests)
  local total_non2xx, total_exhausted = 0, 0
  local status_total = {}
  local all_samples = {}
  for _, thread in ipairs(threads) do
    total_non2xx = total_non2xx + (thread:get("non2xx") or 0)
    total_exhausted = total_exhausted + (thread:get("exhausted") or 0)
    for code, count in string.gmatch(thread:get("statuses") or "", "(%d+):(%d+)") do
      status_total[code] = (status_total[code] or 0) + tonumber(count)
    end
    for sample in string.gmatch(thread:get("samples") or "", "(.-)\n\30") do
      if #all_samples < 5 then all_samples[#all_samples + 1] = json_string(sample) end
    end
  end
  local status_parts = {}
  for code, count in pairs(status_total) do
    status_parts[#status_parts + 1] = string.format('"%s": %d', code, count)
  end
  local e = summary.errors
  local out = assert(io.open(os.getenv("BENCH_OUT"), "w"))
  out:write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, ' ..
    '"wrk_status_errors": %d, "non2xx": %d, "statuses": {%s}, "exhausted": %d, "samples": [%s], ' ..
    '"latency_us": {"mean": %.1f, "stdev": %.1f, "max": %d, "p50": %d, "p90": %d, "p99": %d, "p999": %d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.timeout,
    e.status, total_non2xx, table.concat(status_parts, ", "), total_exhausted, table.concat(all_samples, ", "),
    latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9)))
  out:close()
end
