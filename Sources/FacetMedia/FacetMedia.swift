/// FacetMedia: module entry (filled in by its issue).
public enum FacetMediaModule { public static let name = "FacetMedia" }
