"""The request and response models of every operation: the contract shared by the boundaries
(`api/`, Step Functions, MCP) and the flow, which sits below all of them. One module per area
(`writeback`, ...) and `common` for the base models and the error body.
"""
