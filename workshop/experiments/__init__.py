"""Experiments the notebooks run and plot: real calls against the chosen backend, timed.

Each experiment starts a few threads (producers, consumers, samplers), stops them all by a
deadline even when messages go missing, and returns pandas DataFrames of what it measured, so
a notebook cell stays one line and the numbers can be inspected, plotted or checked. Each
notebook imports the modules it needs:

>>> from workshop.experiments import polling   # doctest: +SKIP
>>> result = polling.compare_polling(cloud)     # doctest: +SKIP
>>> result.summary                              # doctest: +SKIP
"""
