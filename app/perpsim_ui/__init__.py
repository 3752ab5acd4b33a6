"""Helpers of the perpsim Streamlit app: state, scenario form, jobs, result loaders, charts, views.

The pages in ``app/pages/`` only render; everything they share lives here. The app never runs
a simulation in its own process: :mod:`perpsim_ui.jobs` starts the ``perpsim`` command line in
a subprocess and follows its JSON progress lines, and :mod:`perpsim_ui.results` reads the run
folders the command writes (the same folders ``perpsim run`` and ``perpsim compare`` write).
"""
