"""Integrity of dataport images: the hash chain, the verifier and its findings.

from taserlink.integrity import TrustStore, verify_image
report = verify_image("captures/incident-shift.tdi",
                      TrustStore.from_paths(["captures/test-root.pem"]))
print(report.ok, report.coverage)
for finding in report.findings:
    print(finding)
"""

from taserlink.integrity.chain import chain_records, chain_step, genesis_chain
from taserlink.integrity.export import export_evidence
from taserlink.integrity.findings import Coverage, Finding, Kind, Report, Severity
from taserlink.integrity.trust import TrustStore
from taserlink.integrity.verify import verify_continuity, verify_image
from taserlink.integrity.workstation import WorkstationKey

__all__ = [
    "Coverage",
    "Finding",
    "Kind",
    "Report",
    "Severity",
    "TrustStore",
    "WorkstationKey",
    "chain_records",
    "chain_step",
    "export_evidence",
    "genesis_chain",
    "verify_continuity",
    "verify_image",
]
