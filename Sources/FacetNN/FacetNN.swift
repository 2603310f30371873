/// FacetNN: module entry (filled in by its issue).
public enum FacetNNModule { public static let name = "FacetNN" }
