"""The notebook edge: the ``%%track`` and ``%mlnb`` magics and the live chart (imports IPython).

``%load_ext mlnb`` reaches :func:`mlnb.notebook.magics.load_ipython_extension` through
``mlnb.load_ipython_extension``; nothing below this layer imports IPython.
"""
