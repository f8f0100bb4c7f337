-- wrk script of http_load.py: cycles through the requests of a file and prints the
-- run's summary as one JSON line.
--
-- wrk -s http_load.lua URL -- REQUESTS_FILE METHOD
-- REQUESTS_FILE: one request per line, "<path and query>\t<body as hex, or nothing>".
-- The headers are wrk's own (-H).

local requests = {}
local position = 1
local threads = 0

function setup(thread)
  thread:set("thread_number", threads)
  threads = threads + 1
end

local function unhex(text)
  return (text:gsub("%x%x", function(pair) return string.char(tonumber(pair, 16)) end))
end

function init(args)
  local file, method = args[1], args[2]
  for line in io.lines(file) do
    local path, hex = line:match("^([^\t]*)\t(.*)$")
    local body = nil
    if hex ~= "" then
      body = unhex(hex)
    end
    requests[#requests + 1] = wrk.format(method, path, nil, body)
  end
  -- Each thread starts at its own place in the list.
  position = ((thread_number or 0) * 7919) % #requests + 1
end

function request()
  local chosen = requests[position]
  position = position % #requests + 1
  return chosen
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,'
      .. '"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean))
end
