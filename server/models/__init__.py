"""The models behind one worker: the ``Runtime`` loaded in the background
(``host.py``) and the count of every model job by kind and outcome (``calls.py``)."""
