"""The report's column resolution for the Python collectors (collect.py, plots.py): `report.mjs --columns`, so which
raw file holds each table cell's seed runs is decided in one place."""
import json
import os
import subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
RAW = os.path.join(ROOT, "docs", "results", "real", "raw")


def columns_by_setting():
    """{setting: [column, …]} from report.mjs --columns (setting, label, method, chosenLr, file, …)."""
    out = subprocess.run(["node", os.path.join(ROOT, "scripts", "results", "real", "report.mjs"), "--raw", RAW, "--columns"], capture_output=True, text=True, check=True)
    by_setting = {}
    for column in json.loads(out.stdout):
        by_setting.setdefault(column["setting"], []).append(column)
    return by_setting
