-- POSTs the records of $BODIES_FILE (one per line) to $INGEST_PATH in
-- rotation, each with the next of the comma-separated $API_KEYS as bearer.
local bodies, keys, reqs = {}, {}, {}
for line in io.lines(os.getenv("BODIES_FILE")) do bodies[#bodies + 1] = line end
for k in string.gmatch(os.getenv("API_KEYS"), "[^,]+") do keys[#keys + 1] = k end
local i = 0
function init(args)
  for n = 1, #bodies do
    reqs[n] = wrk.format("POST", os.getenv("INGEST_PATH"), {
      ["Host"] = "ingest.example.test",
      ["User-Agent"] = "cartorio-bench/1",
      ["Accept"] = "application/json",
      ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. keys[n % #keys + 1],
    }, bodies[n])
  end
  i = math.random(#reqs)
end
function request()
  i = i % #reqs + 1
  return reqs[i]
end
