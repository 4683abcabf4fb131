-- POSTs the files listed in $BODIES_FILE (one path per line), in rotation,
-- with $CONTENT_TYPE.
local bodies = {}
for path in io.lines(os.getenv("BODIES_FILE")) do
  local f = assert(io.open(path, "rb"))
  bodies[#bodies + 1] = f:read("*a")
  f:close()
end
local headers = { ["Content-Type"] = os.getenv("CONTENT_TYPE") or "application/octet-stream" }
local i = 0
request = function()
  i = i % #bodies + 1
  return wrk.format("POST", "/", headers, bodies[i])
end
