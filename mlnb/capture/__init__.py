"""What a run records about its cell and its process: pure functions, no IPython.

``values`` finds params, metrics and figures in a cell's namespace; ``track_line`` is the
``%%track`` line grammar (shared by the magic and the project exporter); ``provenance`` and
``environment`` describe the kernel, the notebook, the packages and ``git`` the repository.
"""
