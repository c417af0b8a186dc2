"""Clients for the services relbot asks on a user's behalf: GitHub and GitLab (RL-01 merged
pull requests, RL-02 checks on the candidate commit, a release at Execution) and PagerDuty
(paging on-call for rollbacks). Plain httpx, one small client per service (see README)."""
