/// darwin's version, recorded in every job's provenance.
public enum DarwinVersion {
    public static let current = "0.1.0"
}
