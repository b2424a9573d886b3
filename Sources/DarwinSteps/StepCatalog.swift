import DarwinCore

/// Every step darwin ships, for the CLI to hand to the runner.
public enum StepCatalog {
    public static let registry = StepRegistry([
        SetFieldAnnotator.descriptor,
        ChunkSplitter.descriptor,
        ChunkJoiner.descriptor,
        HTMLExtractor.descriptor,
        TextNormalizer.descriptor,
        SampleFilter.descriptor,
        MinLengthFilter.descriptor,
        ExactDedupFilter.descriptor,
        ExactDedupFilter.urlDescriptor,
        LineDedupFilter.descriptor,
        MinHashDedupFilter.descriptor,
        LanguageIdentifier.descriptor,
        GopherQualityFilter.descriptor,
        GopherRepetitionFilter.descriptor,
        C4QualityFilter.descriptor,
        FineWebQualityFilter.descriptor,
        GarbledTextFilter.descriptor,
        MinBytesFilter.descriptor,
        URLFilter.descriptor,
        PIIMasker.descriptor,
        Decontaminator.descriptor,
        FastTextClassifier.descriptor,
        PerplexityScorer.descriptor,
        LLMScorer.descriptor,
        Refiner.descriptor,
        Completer.descriptor,
        QASynthesizer.descriptor,
        ScoreFilter.descriptor,
    ])
}
