-- Sends each request with the next token of the file given after "--",
-- each thread starting at its own place: with more tokens than the cache
-- holds, every request is a cache miss. With a one-line file, every request
-- carries the same token.
local tokens = {}
local i = 0

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  i = math.random(#tokens)
end

function request()
  i = i % #tokens + 1
  return wrk.format("GET", "/file.txt", { ["Authorization"] = "Bearer " .. tokens[i] })
end
