"""The microservices: one service per pipeline stage, plus a gateway that walks them over HTTP."""
