"""``wawindow demo``: serve and the sandbox wired together, and a few simulated customers.

Modules, each for one thing:

- ``children``: starting ``wawindow serve`` and ``wawindow sandbox`` as child
  processes, waiting until they answer, and stopping them so none outlives the demo.
- ``account``: the demo tenant, its line, a new API key, the demo templates and the
  example rate card, made (or found again, on a rerun) through the service layer.
- ``clients``: the HTTP calls the demo makes to wawindow's API and to the sandbox.
- ``story``: the customers and the steps they play, each with its narration.
- ``board``: the table of every customer's session status, read from wawindow's API.
- ``player``: plays the story step by step: moves the clock, acts, prints, pauses.
"""
