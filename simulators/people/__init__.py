"""The simulated people of the county town: the supervision and command centre's operators (受理员),
shift leaders (值班长) and dispatchers (派遣员), the departments' handlers (专业部门), inspectors
(监督员) answering verification and check tasks, and citizens calling 12319.

They close the loop the devices open. Each acts only through the platform's public HTTP API, with
its own user and role, as a person at a console or a handheld app would: nothing here imports
gateway/, streams/ or api/. Their habits (working hours, delays, error rates) come from one
scenario file (simulators/scenarios/county.yaml); their decisions are pure functions of that file
and a seeded random generator (simulators/people/decisions.py).
"""
