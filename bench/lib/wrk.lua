-- bench/lib/wrk.lua - wrk script for bench/run: optional random aligned Range requests
-- (BENCH_RANGE bytes out of a BENCH_FILE_SIZE file) and one machine-readable result line.
local range = tonumber(os.getenv("BENCH_RANGE") or "0") or 0
local size = tonumber(os.getenv("BENCH_FILE_SIZE") or "0") or 0

if range > 0 and size >= range then
   math.randomseed(os.time())
   local n = math.floor(size / range)
   request = function()
      local a = math.random(0, n - 1) * range
      return wrk.format(nil, nil, {["Range"] = "bytes=" .. a .. "-" .. (a + range - 1)})
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'WRKJSON {"duration_us":%d,"requests":%d,"bytes":%d,"err_connect":%d,"err_read":%d,' ..
      '"err_write":%d,"err_status":%d,"err_timeout":%d,"p50_us":%d,"p99_us":%d}\n',
      summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write,
      e.status, e.timeout, latency:percentile(50), latency:percentile(99)))
end
