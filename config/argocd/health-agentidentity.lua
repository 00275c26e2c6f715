-- Argo CD health for nhi.dev/AgentIdentity, read from the conditions the operator writes
-- (src/controller/agentidentity: ConditionOwners in status-draft.ts, Ready in ready.ts).
--
--   Healthy      Ready=True, written for the identity's current generation.
--   Progressing  no status yet (the operator has not reconciled the identity), status written for
--                an older generation, Ready=Unknown (the first provisioning is under way), or the
--                workload missing within its orphan grace period.
--   Suspended    Quarantined=True with reason Locked: the kill switch (spec.locked or the
--                nhi.dev/locked annotation) disabled every credential; unlocking restores them.
--   Degraded     Revoked=True (credentials deleted: recreate the identity), quarantined for any
--                other reason (Orphaned, Expired, Inactive), PolicyCompliant=False, a step that
--                failed (Provisioned, Quarantined or Revoked False with an error reason, among them
--                RevocationBlocked), and every other Ready=False; optionally a High or Critical risk.
--
-- This file is the one source: scripts/sync-chart.ts writes it into config/argocd/argocd-cm-patch.yaml,
-- config/argocd/argo-cd-values.yaml and the chart (files/argocd-health-agentidentity.lua). Argo CD
-- runs it in gopher-lua (Lua 5.1) with only the base functions, `table` and a reduced `os`: no
-- `string` or `math` library, and no string methods. test/integration/argocd runs it that way with
-- the real lua5.1 on AgentIdentities taken from real reconciles.
--
-- Argo CD reports an object that is being deleted (offboarding) as Progressing, "Pending deletion",
-- before it runs any health script.

-- Degraded instead of Healthy while status.risk.level is High or Critical.
-- The chart value argocd.healthCheck.degradedOnHighRisk turns it on.
local DEGRADED_ON_HIGH_RISK = false

local function find(conditions, conditionType)
  for _, c in ipairs(conditions) do
    if c.type == conditionType then
      return c
    end
  end
  return nil
end

local function is(c, status)
  return c ~= nil and c.status == status
end

-- "Reason: message", the way the operator's Events read.
local function says(c)
  local text = c.reason or ""
  if c.message ~= nil and c.message ~= "" then
    if text ~= "" then
      text = text .. ": "
    end
    text = text .. c.message
  end
  return text
end

-- Quarantined=False with these reasons means no quarantine is pending or failing.
local QUARANTINE_IDLE = { Active = true, Restored = true }

local function health(obj)
  local status = obj.status
  if status == nil or status.conditions == nil or #status.conditions == 0 then
    return "Progressing", "waiting for the operator to reconcile the identity"
  end
  local conditions = status.conditions
  local generation = obj.metadata.generation
  local observed = status.observedGeneration
  if generation ~= nil and (observed == nil or observed < generation) then
    return "Progressing",
      "waiting for the operator to reconcile generation "
        .. tostring(generation)
        .. " (status is for generation "
        .. tostring(observed or "none")
        .. ")"
  end

  local revoked = find(conditions, "Revoked")
  if is(revoked, "True") then
    return "Degraded", "credentials revoked (" .. says(revoked) .. "); recreate the AgentIdentity to start over"
  end
  -- A revocation that failed (RevocationBlocked while offboarding): Ready may still be True.
  if is(revoked, "False") then
    return "Degraded", "revocation failing: " .. says(revoked)
  end
  local quarantined = find(conditions, "Quarantined")
  if is(quarantined, "True") then
    if quarantined.reason == "Locked" then
      return "Suspended", says(quarantined)
    end
    return "Degraded", "quarantined: " .. says(quarantined)
  end

  local ready = find(conditions, "Ready")
  local current = ready ~= nil
    and (ready.observedGeneration == nil or generation == nil or ready.observedGeneration >= generation)
  if is(ready, "True") and current then
    local risk = status.risk
    if DEGRADED_ON_HIGH_RISK and risk ~= nil and (risk.level == "High" or risk.level == "Critical") then
      local message = "risk " .. risk.level .. " (score " .. tostring(risk.score) .. ")"
      if risk.remediateBy ~= nil then
        message = message .. ", remediate by " .. risk.remediateBy
      end
      return "Degraded", message .. ": see status.risk.factors"
    end
    local expired = find(conditions, "Expired")
    if is(expired, "False") and expired.reason == "ExpiringSoon" then
      return "Healthy", (ready.message or "") .. "; " .. (expired.message or "")
    end
    return "Healthy", ready.message or "ready"
  end

  -- Not ready: the condition that decided, most severe first.
  if is(quarantined, "False") and not QUARANTINE_IDLE[quarantined.reason] then
    return "Degraded", "quarantine failing: " .. says(quarantined)
  end
  local compliant = find(conditions, "PolicyCompliant")
  if is(compliant, "False") then
    return "Degraded", says(compliant)
  end
  local provisioned = find(conditions, "Provisioned")
  if is(provisioned, "False") then
    return "Degraded", says(provisioned)
  end
  local bound = find(conditions, "WorkloadBound")
  if is(bound, "False") then
    local orphaned = find(conditions, "Orphaned")
    if bound.reason == "WorkloadMissing" and not is(orphaned, "True") then
      if is(orphaned, "False") and orphaned.reason == "GracePeriod" then
        return "Progressing", says(bound) .. "; " .. (orphaned.message or "")
      end
      return "Progressing", says(bound)
    end
    return "Degraded", says(bound)
  end
  if ready == nil or ready.status == "Unknown" or not current then
    return "Progressing", ready ~= nil and says(ready) or "waiting for the operator to derive Ready"
  end
  return "Degraded", says(ready)
end

local hs = {}
hs.status, hs.message = health(obj)
return hs
