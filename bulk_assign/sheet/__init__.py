"""Reading the sheet: CSV and Excel into text cells, Excel's marks (hidden rows, uncalculated
formulas), formula escaping, the header aliases, the template."""
