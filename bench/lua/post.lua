-- POST /v1/contacts with a unique email per request (emails are unique per workspace):
-- run tag (unique per wrk invocation) + thread id + counter, plus a random salt.
-- wrk args: <run tag>
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local run_tag = "0"
local counter = 0

local next_tid = 0
function setup(thread)
  next_tid = next_tid + 1
  thread:set("tid", next_tid)
end

function init(args)
  run_tag = args[1] or run_tag
  math.randomseed(os.time() + (tid or 0) * 7919)
end

function request()
  counter = counter + 1
  local email = string.format("ada+%s.%d.%d.%d@example.com",
    run_tag, tid or 0, counter, math.random(1, 1000000000))
  local body = '{"first_name":"Ada","last_name":"Lovelace","emails":["' .. email .. '"]}'
  return wrk.format(nil, nil, nil, body)
end
