-- GET /v1/contacts/{id}, the id drawn at random from a sample of seeded ids.
-- wrk args: <file with one id per line>
local ids = {}

local next_tid = 0
function setup(thread)
  next_tid = next_tid + 1
  thread:set("tid", next_tid)
end

function init(args)
  for line in io.lines(args[1]) do
    ids[#ids + 1] = line
  end
  math.randomseed(os.time() + (tid or 0) * 7919)
end

function request()
  return wrk.format(nil, "/v1/contacts/" .. ids[math.random(#ids)])
end
