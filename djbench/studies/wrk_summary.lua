-- Print wrk's totals as one JSON line after a marker, for djbench/studies/calibrate.py to read.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'wrk-summary: {"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, ' ..
    '"read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d, ' ..
    '"p50_us": %d, "p95_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
