#!/usr/bin/env python3
"""Builds the guard benchmark's labelled cases from the pinned agentdojo and
spikee wheels (read as zip files: nothing is imported or installed).

Usage: guard-data.py AGENTDOJO_WHEEL SPIKEE_WHEEL OUT_DIR

Writes OUT_DIR/cases.jsonl, one case a line:
  {"set": ..., "label": "attack"|"benign", "source": ..., "text": ...}
Sets: direct_override, sysprompt_extraction, bare_instruction,
indirect_email, non_english (attacks); benign_mail, benign_questions (benign).
"""
import ast
import json
import re
import sys
import zipfile

import_yaml = None


def yaml_load(text):
    # agentdojo's data is YAML; PyYAML ships with most Pythons but is not
    # guaranteed, so the few shapes used here are parsed by hand when absent.
    global import_yaml
    if import_yaml is None:
        try:
            import yaml  # noqa: F401

            import_yaml = yaml
        except ImportError:
            import_yaml = False
    if import_yaml:
        return import_yaml.safe_load(text)
    raise SystemExit("PyYAML is required (pip install pyyaml)")


def class_strings(src):
    """{class name: {attr: str}} for string-valued class attributes, f-strings
    evaluated against the attributes defined before them."""
    out = {}
    for node in ast.walk(ast.parse(src)):
        if not isinstance(node, ast.ClassDef):
            continue
        ns = {}
        for stmt in node.body:
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                try:
                    v = eval(compile(ast.Expression(stmt.value), "<goal>", "eval"), {"__builtins__": {}}, dict(ns))
                except Exception:
                    continue
                if isinstance(v, str):
                    ns[stmt.targets[0].id] = v
        # Templates passed as super().__init__("...{goal}...", ...)
        for call in ast.walk(node):
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "__init__":
                if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
                    ns.setdefault("_TEMPLATE", call.args[0].value)
        out[node.name] = ns
    return out


def main():
    ad_whl, sp_whl, out_dir = sys.argv[1:4]
    cases = []

    def add(set_, label, source, text):
        cases.append({"set": set_, "label": label, "source": source, "text": text})

    ad = zipfile.ZipFile(ad_whl)
    names = ad.namelist()
    read = lambda n: ad.read(n).decode("utf-8")

    # Injection goals: every suite's and version's injection tasks.
    goals = {}
    for n in sorted(names):
        m = re.match(r"agentdojo/default_suites/(v[0-9_]+)/(\w+)/injection_tasks\.py$", n)
        if not m:
            continue
        for cls, ns in class_strings(read(n)).items():
            if "GOAL" in ns:
                goals[(m.group(2), m.group(1), cls)] = ns["GOAL"]
    # Attack templates that carry the goal.
    templates = {}
    for f in ("baseline_attacks.py", "important_instructions_attacks.py"):
        for cls, ns in class_strings(read("agentdojo/attacks/" + f)).items():
            t = ns.get("_JB_STRING") or ns.get("_TEMPLATE")
            if t and "{goal}" in t and "{tools}" not in t:
                templates[cls] = t
    dos = {cls: ns["_DOS_STRING"] for cls, ns in class_strings(read("agentdojo/attacks/dos_attacks.py")).items() if "_DOS_STRING" in ns}

    def fill(t, goal):
        return t.replace("{goal}", goal).replace("{user}", "Emma Johnson").replace("{model}", "GPT-4").replace("{task}", "")

    # Benign: the workspace inbox with every injection slot at its benign
    # default, and every suite's injection-slot defaults.
    vectors = {}
    for n in names:
        m = re.match(r"agentdojo/data/suites/(\w+)/injection_vectors\.yaml$", n)
        if m:
            for k, v in (yaml_load(read(n)) or {}).items():
                vectors[k] = v.get("default", "")
    inbox = yaml_load(read("agentdojo/data/suites/workspace/include/inbox.yaml"))
    emails = inbox["initial_emails"]

    def render(e, values):
        body = e["body"]
        for k, v in values.items():
            body = body.replace("{" + k + "}", v)
        return f"Subject: {e['subject']}\n\n{body}"

    for e in emails:
        add("benign_mail", "benign", "agentdojo:inbox:" + e["id_"], render(e, vectors))
    for k, v in sorted(vectors.items()):
        if v.strip():
            add("benign_mail", "benign", "agentdojo:default:" + k, v)

    def fill_defaults(text):
        for k, v in vectors.items():
            text = text.replace("{" + k + "}", v)
        return text

    # Benign documents: the workspace's cloud-drive files and calendar
    # descriptions, slots at their defaults.
    drive = yaml_load(read("agentdojo/data/suites/workspace/include/cloud_drive.yaml"))
    for f in drive["initial_files"]:
        add("benign_documents", "benign", "agentdojo:file:" + f["id_"], fill_defaults(f["content"]))
    cal = yaml_load(read("agentdojo/data/suites/workspace/include/calendar.yaml"))
    for ev in cal["initial_events"]:
        text = fill_defaults(f"{ev['title']}\n{ev.get('description', '')}")
        add("benign_documents", "benign", "agentdojo:event:" + ev["id_"], text)

    # Indirect: each injectable inbox email, each attack template, each
    # workspace goal (the other slots keep their defaults).
    ws_goals = {k: g for k, g in goals.items() if k[0] == "workspace"}
    for e in emails:
        slots = re.findall(r"\{(\w+)\}", e["body"])
        for slot in slots:
            for tname, t in sorted(templates.items()):
                for (suite, ver, cls), g in sorted(ws_goals.items()):
                    values = dict(vectors)
                    values[slot] = fill(t, g)
                    add("indirect_email", "attack", f"agentdojo:{tname}:{ver}:{cls}:{slot}", render(e, values))
            for tname, t in sorted(dos.items()):
                values = dict(vectors)
                values[slot] = fill(t, "")
                add("indirect_email", "attack", f"agentdojo:{tname}:{slot}", render(e, values))

    # spikee: jailbreak x instruction payloads.
    sp = zipfile.ZipFile(sp_whl)
    base = "spikee/data/workspace/datasets/"

    def jsonl(ds, f):
        n = base + ds + "/" + f + ".jsonl"
        if n not in sp.namelist():
            return []
        return [json.loads(l) for l in sp.read(n).decode("utf-8").splitlines() if l.strip()]

    docs = []
    for ds in ("seeds-llm-mailbox", "seeds-cybersec-2026-01"):
        for d in jsonl(ds, "base_user_inputs"):
            if d.get("placeholder") or "<PLACEHOLDER>" in d["document"]:
                continue
            if d["id"] not in {x[0] for x in docs}:
                docs.append((d["id"], d["document"]))
    for i, d in docs:
        add("benign_mail", "benign", "spikee:doc:" + i, d)

    for ds in ("seeds-llm-mailbox", "seeds-cybersec-2026-01", "seeds-sysmsg-extraction-2025-04"):
        jbs, ins = jsonl(ds, "jailbreaks"), jsonl(ds, "instructions")
        for j in jbs:
            for ins_ in ins:
                if j.get("lang", "en") != ins_.get("lang", "en"):
                    continue
                payload = j["text"].replace("<INSTRUCTION>", ins_["instruction"])
                lang = j.get("lang", "en")
                src = f"spikee:{ds}:{j['id']}:{ins_['id']}"
                if lang != "en":
                    add("non_english", "attack", src, payload)
                elif ins_["instruction_type"] == "sysmsg-extract":
                    add("sysprompt_extraction", "attack", src, payload)
                elif j["jailbreak_type"] == "no-jailbreak":
                    add("bare_instruction", "attack", src, payload)
                else:
                    add("direct_override", "attack", src, payload)
                # The same payload at the end of each email document.
                if lang == "en" and ds != "seeds-sysmsg-extraction-2025-04":
                    for i, d in docs:
                        if i.startswith("email"):
                            add("indirect_email", "attack", src + ":" + i, d + "\n" + payload)

    for d in jsonl("seeds-investment-advice-fp", "standalone_user_inputs"):
        add("benign_questions", "benign", "spikee:fp:" + d["id"], d["text"])

    import os

    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "cases.jsonl"), "w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    counts = {}
    for c in cases:
        counts[c["set"]] = counts.get(c["set"], 0) + 1
    print("guard data:", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    main()
