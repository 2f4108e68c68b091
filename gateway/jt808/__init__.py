"""JT/T 808 vehicle terminals (2013 and 2019 editions): the codec and the TCP gateway (docs/jt808.md).

No maintained Python library for JT/T 808 exists on PyPI (the only one, ``tongue``, is a 2015 1.0.0 release),
so the codec is written here, small and table-driven: `frames` (delimiting, escaping, check code, header),
`bodies` (the message bodies), `location` (0x0200 with its alarm, status and additional-item tables),
`subpackets` (reassembly with bounds). The gateway process is `service`.
"""
