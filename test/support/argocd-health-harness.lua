-- Runs an Argo CD health script as Argo CD does (util/lua/lua.go): the global `obj` holds the
-- resource, and the script sees only the base functions, `table` and a reduced `os` (a health check
-- from argocd-cm runs without resource.customizations.useOpenLibs). No `string`, `math`, `io` or
-- `debug`, and strings have no methods, as in gopher-lua without its string library.
--
-- usage: lua5.1 argocd-health-harness.lua <health.lua> < object.lua
--   object.lua is a chunk returning the resource as a table (test/support/argocd-health.ts writes it)
-- prints the status on the first line and the message on the second; exits non-zero when the script
-- fails or returns something other than a table.

local script = assert(arg[1], "usage: lua5.1 argocd-health-harness.lua <health.lua> < object.lua")
local object = assert(loadstring(io.read("*a"), "=object"))()
local check = assert(loadfile(script))

local sandbox = {
  obj = object,
  table = table,
  os = { time = os.time, date = os.date, clock = os.clock },
}
local base = {
  "assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall", "print", "rawequal",
  "rawget", "rawset", "select", "setmetatable", "tonumber", "tostring", "type", "unpack", "xpcall",
  "_VERSION",
}
for _, name in ipairs(base) do
  sandbox[name] = _G[name]
end
sandbox._G = sandbox
setfenv(check, sandbox)

local strings = getmetatable("")
local methods = strings.__index
strings.__index = nil
local ok, hs = pcall(check)
strings.__index = methods

if not ok then
  io.stderr:write("health script failed: ", tostring(hs), "\n")
  os.exit(2)
end
if type(hs) ~= "table" then
  io.stderr:write("health script returned a ", type(hs), ", not a table\n")
  os.exit(3)
end
io.write(tostring(hs.status), "\n", tostring(hs.message), "\n")
