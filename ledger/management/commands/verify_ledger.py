from django.core.management.base import BaseCommand

from ledger.verification import verify_ledger


class Command(BaseCommand):
    help = "Check every ledger invariant (balance per transaction and currency, hash chain). Exit 1 on any break."

    def handle(self, *args, **options):
        report = verify_ledger()
        counts = f"{report.transactions} transactions, {report.postings} postings, {report.accounts} accounts"
        if report.sound:
            self.stdout.write(f"ledger sound: {counts}; every transaction balances; hash chain intact")
            return
        self.stderr.write(f"LEDGER BROKEN ({counts}):")
        for kind, problems in report.problems.items():
            self.stderr.write(f"  {kind}:")
            for problem in problems:
                self.stderr.write(f"    - {problem}")
        raise SystemExit(1)
