"""The learning curve: how fast the gate comes to agree with one user (`companion eval learning`).

Simulated users with stated, consistent preferences (`personas`) answer a recorded stream of
the proposals the real engine surfaced (`stream`: the moments benchmark's export, or
ProactiveBench's sessions with each annotator as a user); `replay` feeds the answers through a
real store into the real gate — its judgement memory and preference recall read them, and the
embedding heads are really retrained on them — and judges the gate on the user's FUTURE moments
(ones never answered) after 0, 10, 25, 50 and 100 answers, against the base gate.
"""
