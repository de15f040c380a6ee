"use strict";
// Verdicts and reason codes of schema/reasons.md §4 (verify-file), in Chinese.
const VERDICT = {
  "valid": ["有效", "valid", "valid"],
  "valid-with-warnings": ["有效，但有警示", "valid, with warnings", "warn"],
  "invalid": ["无效", "invalid", "invalid"],
  "refused": ["未能核验", "not checked", "invalid"],
};
const ZH = {
  digest_unknown: "账本中没有任何证据条目具有此文件的摘要（BLAKE3、SHA-256、SM3）。",
  entry_hash_mismatch: "登记条目的哈希与记录不符，或条目未载明此文件的摘要。",
  inclusion_proof_invalid: "登记条目的包含证明不能推导出检查点的根哈希。",
  checkpoint_signature_invalid: "检查点不是由本账本的日志密钥签名。",
  entry_not_canonical: "登记条目无法按规范格式解码。",
  statement_not_canonical: "登记条目中的声明无法按规范格式解码。",
  signature_invalid: "登记条目的签名无法通过严格验证。",
  author_not_enrolled: "签名人在该条目之前未登记。",
  author_revoked: "签名人的密钥在该条目之前已被吊销。",
  author_expired: "签名人的密钥在该条目记录时已过期。",
  author_not_yet_valid: "签名人的密钥在该条目记录时尚未生效。",
  role_not_allowed: "签名人的角色无权签署此类条目。",
  signed_after_compromise: "签名人的密钥后来被声明泄露，泄露时间早于或等于该条目。",
  custody_rehash_mismatch: "保管交接或完整性检查时重新计算的摘要与登记摘要不一致。",
  second_collector_missing: "没有第二名收集人背书该登记。",
  custody_gap: "某次保管移交从未被接收。",
  seal_broken: "证据封条被发现已破损。",
  evidence_disposed: "该证据已被处置。",
  // Bundle verification (schema/reasons.md §6).
  log_key_mismatch: "卷宗的验证密钥或其创世条目指向的密钥或账本名称与可信验证密钥不同。",
  registry_note_invalid: "登记簿签名记录无法解析，或不是由可信日志密钥签名。",
  registry_note_mismatch: "登记簿签名记录针对的树（大小或根哈希）与检查点不同。",
  registry_incomplete: "卷宗中的密钥登记簿不完整：有条目被删去（例如吊销）、增加、重复或顺序被改变。",
  wrong_origin: "条目声明的账本名称与可信密钥不同。",
  author_is_log_key: "条目由日志密钥签名。",
  author_pending_endorsement: "签名人的密钥管理员登记仍在等待第二名管理员背书。",
  chain_broken: "相邻条目没有正确链接（prev 不是前一条目的哈希）。",
  clock_regressed: "后一条目的记录时间早于前一条目。",
  solo_officer_appointment: "密钥管理员由单独一名管理员任命（双人控制之前）。",
  solo_officer_revocation: "通过紧急途径吊销了管理员（剩余管理员少于两名）。",
  log_rewritten: "一致性证明不成立，或法院留存的检查点不是该证明的起点：账本被改写。",
  file_not_registered: "卷宗所附的证据原件没有对应的、卷宗内的登记条目。",
  file_digest_mismatch: "卷宗所附的证据原件不是登记的文件（大小或登记摘要不符）。",
  // Refusals of the key-registry rules, found when the registry is replayed (roles.md).
  genesis_misplaced: "创世条目不在序号 0，或序号 0 不是创世条目。",
  bad_genesis: "创世条目内容自相矛盾（账本名称、管理员或日志密钥）。",
  nonce_reused: "同一签名人的同一随机数被使用了两次。",
  invalid_key: "登记的密钥不是合规的 Ed25519 公钥，或是日志密钥。",
  key_already_enrolled: "该密钥此前已登记过。",
  missing_field: "必填字段为空。",
  invalid_name: "姓名或单位含有不可见字符、控制字符、过长，或混用可冒充他人的文字。",
  invalid_value: "取值无效（角色重复，或有效期结束不晚于开始）。",
  unknown_key: "吊销的密钥从未登记。",
  already_revoked: "该密钥已被吊销。",
  last_key_officer: "吊销后将没有可用的密钥管理员。",
  dual_control_required: "双人控制下，吊销该管理员需要第二人，或声明密钥已泄露。",
  unknown_entry: "背书指向的条目不是此前的登记簿条目。",
  self_endorsement: "背书人与被背书条目的签名人（或被登记人、登记管理员）是同一人。",
  already_endorsed: "该密钥已背书过该条目。",
  capacity_mismatch: "该背书身份不能背书此类条目。",
  invalid_bundle: "文件不是有效的 pil-ledger-bundle/v1 卷宗。",
  invalid_vkey: "可信验证密钥格式不正确。",
  invalid_argument: "法院留存的检查点无效、比卷宗更新，或卷宗没有从它开始的一致性证明。",
};

const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));

async function check(file) {
  $("progress").textContent = "正在上传并计算摘要… / uploading and hashing " + file.name + " (" + file.size + " bytes)…";
  $("verdict").style.display = "none";
  $("reasons").hidden = true;
  $("raw").hidden = true;
  $("summary").innerHTML = "";
  let res, body;
  try {
    res = await fetch("/v1/verify/file", { method: "POST", body: file, headers: { "content-type": "application/octet-stream" } });
    body = await res.json();
  } catch (e) {
    $("progress").textContent = "请求失败 / request failed: " + e;
    return;
  }
  $("progress").textContent = "";
  if (!res.ok) {
    const err = body && body.error ? body.error : { code: "http_" + res.status, message: "" };
    $("verdict").className = "invalid";
    $("verdict").style.display = "block";
    $("verdict").textContent = "未能核验 / not checked: " + err.code + " — " + err.message;
    return;
  }
  const v = VERDICT[body.verdict] || [body.verdict, body.verdict, "invalid"];
  $("verdict").className = v[2];
  $("verdict").style.display = "block";
  $("verdict").textContent = v[0] + " / " + v[1];
  const rows = [];
  if (body.evidence_id) rows.push(["证据编号 / evidence id", esc(body.evidence_id)]);
  if (body.seq !== undefined) rows.push(["登记条目 / registered at seq", esc(body.seq)]);
  if (body.signer) rows.push(["签名人 / signed by", esc(body.signer.holder + " (" + body.signer.unit + ")")]);
  if (body.size !== undefined) rows.push(["检查点大小 / checkpoint size", esc(body.size)]);
  if (body.file_digests) rows.push(["文件摘要 / file digests", body.file_digests.map((d) => "<code>" + esc(d) + "</code>").join("<br>")]);
  $("summary").innerHTML = rows.length
    ? "<table>" + rows.map((r) => "<tr><th>" + r[0] + "</th><td>" + r[1] + "</td></tr>").join("") + "</table>"
    : "";
  const tb = $("reasons").querySelector("tbody");
  tb.innerHTML = "";
  for (const r of body.reasons || []) {
    const sev = r.severity === "warning" ? "警示 / warning" : "错误 / error";
    const zh = ZH[r.code] || "";
    tb.insertAdjacentHTML("beforeend",
      "<tr><td><code>" + esc(r.code) + "</code><br>" + sev + "</td><td>" + (r.seq === undefined ? "" : esc(r.seq)) +
      "</td><td>" + esc(zh) + (zh ? "<br>" : "") + '<span class="en">' + esc(r.message) + "</span></td></tr>");
  }
  $("reasons").hidden = (body.reasons || []).length === 0;
  $("rawtext").textContent = JSON.stringify(body, null, 2);
  $("raw").hidden = false;
}

// Court bundles, checked here in the browser (PilBundle above); no request is made for the check.
let vkeyReady = null;
function showBundle(r) {
  $("verdict").style.display = "none";
  $("reasons").hidden = true;
  $("summary").innerHTML = "";
  $("progress").textContent = "";
  $("bundle").hidden = false;
  const bv = $("bverdict");
  const v = VERDICT[r.verdict] || ["未能核验", "not checked", "invalid"];
  bv.className = v[2];
  bv.dataset.verdict = r.verdict;
  bv.textContent = "卷宗" + v[0] + " / bundle " + v[1] + (r.error ? ": " + r.error.code + " — " + (ZH[r.error.code] || "") + " " + r.error.message : "");
  $("bsummary").innerHTML = r.size === undefined ? "" :
    "账本 / ledger <code>" + esc(r.origin) + "</code>, 检查点大小 / checkpoint size " + esc(r.size) +
    ", 根 / root <code>" + esc(r.root) + "</code>" + (r.registry_count === undefined ? "" : ", 登记簿条目 / registry entries " + esc(r.registry_count)) +
    (r.kept_size === undefined ? "" : "; 已与法院留存的检查点（大小 " + esc(r.kept_size) + "）核对 / checked against the kept checkpoint of size " + esc(r.kept_size));
  const tb = $("breasons").querySelector("tbody");
  tb.innerHTML = "";
  for (const x of r.reasons || []) {
    const sev = x.severity === "warning" ? "警示 / warning" : "错误 / error";
    const zh = ZH[x.code] || "";
    tb.insertAdjacentHTML("beforeend", "<tr><td><code>" + esc(x.code) + "</code><br>" + sev + "</td><td>" + (x.seq == null ? "" : esc(x.seq)) +
      "</td><td>" + esc(zh) + (zh ? "<br>" : "") + '<span class="en">' + esc(x.message) + "</span></td></tr>");
  }
  $("breasons").hidden = !(r.reasons || []).length;
  const te = $("bentries").querySelector("tbody");
  te.innerHTML = "";
  for (const e of r.entries || []) {
    const who = e.signer ? e.signer.holder + " (" + e.signer.unit + "; " + e.signer.roles.join(", ") + ")" : "";
    te.insertAdjacentHTML("beforeend", "<tr><td>" + esc(e.seq) + "</td><td>" + esc(e.kind) + "</td><td>" + esc(who) +
      '<br><code>' + esc(e.author || "") + "</code></td><td>" + esc(e.case_id || "") + "</td><td>" +
      (e.recorded_at_ms == null ? "" : esc(typeof e.recorded_at_ms === "bigint" ? e.recorded_at_ms + " ms" : new Date(e.recorded_at_ms).toISOString())) + "</td></tr>");
  }
  $("bentries").hidden = !(r.entries || []).length;
  const tf = $("bfiles").querySelector("tbody");
  tf.innerHTML = "";
  for (const f of r.files || []) {
    const ok = f.matches ? "是登记的文件 / is the registered file" : "不是登记的文件 / is NOT the registered file";
    const url = URL.createObjectURL(new Blob([f.data], { type: f.media_type || "application/octet-stream" }));
    tf.insertAdjacentHTML("beforeend", '<tr><td><a download="' + esc(f.evidence_id) + '" href="' + url + '">' + esc(f.evidence_id) +
      "</a></td><td>" + esc(f.seq) + "</td><td>" + esc(f.size) + '</td><td class="' + (f.matches ? "valid" : "invalid") + '">' + ok + "</td></tr>");
  }
  $("bfiles").hidden = !(r.files || []).length;
  $("rawtext").textContent = JSON.stringify(r, (k, v) => (k === "data" ? undefined : typeof v === "bigint" ? v.toString() : v), 2);
  $("raw").hidden = false;
}
async function checkBundle(text) {
  if (vkeyReady) await vkeyReady;
  const vkey = $("trusted").value.trim();
  showBundle(PilBundle.pilVerifyBundle(text, vkey, $("kept").value));
}
// A bundle file (JSON whose format is pil-ledger-bundle/v1, at most 64 MiB) is checked here;
// any other file goes to POST /v1/verify/file as before.
async function dropped(file) {
  $("bundle").hidden = true;
  if (file.size <= 64 * 1024 * 1024) {
    const head = await file.slice(0, 200).text();
    if (/^\s*\{/.test(head) && head.includes("pil-ledger-bundle/v1")) return checkBundle(await file.text());
  }
  return check(file);
}
const drop = $("drop");
drop.addEventListener("click", () => $("file").click());
drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") $("file").click(); });
$("file").addEventListener("change", (e) => { if (e.target.files[0]) dropped(e.target.files[0]); });
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  if (e.dataTransfer.files[0]) dropped(e.dataTransfer.files[0]);
});
vkeyReady = fetch("/v1/vkey").then((r) => r.text()).then((t) => {
  $("vkey").textContent = t.trim();
  if (!$("trusted").value) $("trusted").value = t.trim();
}).catch(() => {});
$("keptfile").addEventListener("change", async (e) => { if (e.target.files[0]) $("kept").value = await e.target.files[0].slice(0, 1 << 20).text(); });
// For tests and links: #bundle=<base64url of the bundle JSON>[&vkey=<verifier key>][&kept=<base64url
// of a kept checkpoint note>] checks that bundle here on load (the fragment is never sent to the server).
(function fromFragment() {
  const f = new URLSearchParams(location.hash.slice(1));
  const text = (b) => { const bin = atob(b.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((b.length + 3) % 4)); return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))); };
  if (f.get("vkey")) $("trusted").value = f.get("vkey");
  const b = f.get("bundle");
  if (!b) return;
  try {
    if (f.get("kept")) { $("kept").value = text(f.get("kept")); $("keptbox").open = true; }
    checkBundle(text(b));
  } catch (e) {
    showBundle({ verdict: "refused", error: { code: "invalid_bundle", message: "fragment: " + e.message } });
  }
})();
fetch("/v1/checkpoint").then((r) => r.text()).then((t) => { $("checkpoint").textContent = t; }).catch(() => {});
