"""The files an analyst acts on: results, failed, rollback and summary files, the workbook, and no
personal data in logs."""
