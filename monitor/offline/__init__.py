"""Analysis away from the stream: backtests over files, reports, ground truth, evaluation,
training a warm start, the Taiwan converter, peers and the cost of scoring."""
