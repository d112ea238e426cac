/// Area under the ROC curve, computed exactly.
public enum ROCAUC {
    /// The exact ROC AUC of `scores` against `labels` (true = positive): the probability that a
    /// random positive scores above a random negative, ties counting one half (the Mann–Whitney U
    /// statistic over `P·N`, with average ranks for tied scores). NaN when either class is absent.
    /// O(n log n); allocates the sort order.
    public static func exact(scores: [Double], labels: [Bool]) -> Double {
        precondition(scores.count == labels.count, "one label per score")
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var positives = 0.0, rankSumOfPositives = 0.0
        var i = 0
        while i < order.count {
            var j = i
            var groupPositives = 0.0
            while j < order.count && scores[order[j]] == scores[order[i]] {
                if labels[order[j]] { groupPositives += 1 }
                j += 1
            }
            // Ranks i+1 ... j share their average.
            let averageRank = Double(i + 1 + j) / 2
            rankSumOfPositives += groupPositives * averageRank
            positives += groupPositives
            i = j
        }
        let negatives = Double(scores.count) - positives
        guard positives > 0, negatives > 0 else { return .nan }
        return (rankSumOfPositives - positives * (positives + 1) / 2) / (positives * negatives)
    }
}
