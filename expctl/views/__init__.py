"""Views: what `compare`, `check`, `roc`, `show` and `list` show, as functions returning data.

Each reads run directories through `expctl.runs.RunView` (never by file name) and asks the metric
catalogue (`expctl.evaluation.catalogue`) which way a metric is better; the command prints. No
TensorFlow, ever; numpy and matplotlib only inside the functions that compute or draw curves.
Modules: `compare` (+ `grouping`, `table`, `figures`), `roc`, `check`, `show`, `listing`,
`biasvar`. Importing this package imports none of them.
"""
