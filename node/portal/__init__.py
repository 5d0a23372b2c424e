"""The council's web portal for its practitioners: sign in, search every council, alerts, my searches.

Views are thin (node/portal/views.py): they parse a form, call the node's Practitioner gRPC service
(node/portal/node_api.py, the same API the CLI uses, so the same rules, validation and audit apply) and
render a GOV.UK Frontend template. Served over HTTPS with the node's certificate by cheroot (server.py).
"""
