"""The catalog: the GPU model table and the offers suppliers sell.

* ``gpus`` — canonical GPU models, aliases, families (``data/gpu_models.yaml``, cited);
* ``skypilot`` (+ ``skypilot_quirks``, ``gpuinfo``) — SkyPilot-format ``vms.csv`` price catalogs;
* ``supplier_file`` — supplier YAML for private contracts and hand-written price lists;
* ``sources`` — where offers come from (shared data, built-in table, user files);
* ``query`` — filtering, pricing per GPU and per TFLOP, sorting, collapsing.

Pure apart from reading the files it is pointed at: no network, no clock, no database.
"""
