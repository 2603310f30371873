/// FFmpeg for Facet, loaded on first use. FFmpeg's libraries pull in about 120 shared libraries (every codec's,
/// X11, Kerberos...), and binding them costs each process start about 40 ms: most of what a one-off query
/// such as `facet similar` waits for. So Facet does not link them; `facet_ffmpeg_load` opens them (by the
/// major versions these headers name) the first time a video is opened, and Swift calls FFmpeg through
/// the function table `facet_ffmpeg_api`, which has one member per FFmpeg function Facet uses, named as
/// the function and typed from its own declaration.
#ifndef FACET_CFFMPEG_H
#define FACET_CFFMPEG_H

#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/error.h>
#include <libavutil/dict.h>
#include <libavutil/display.h>

/// Every FFmpeg function Facet calls (add a name here to call a new one).
#define FACET_FFMPEG_FUNCTIONS(F) \
    F(av_buffer_create) \
    F(av_compare_ts) \
    F(av_d2q) \
    F(av_dict_free) \
    F(av_dict_get) \
    F(av_dict_set) \
    F(av_display_rotation_get) \
    F(av_find_best_stream) \
    F(av_frame_alloc) \
    F(av_frame_free) \
    F(av_frame_get_buffer) \
    F(av_frame_make_writable) \
    F(av_frame_unref) \
    F(av_free) \
    F(av_freep) \
    F(av_get_media_type_string) \
    F(av_get_pix_fmt_name) \
    F(av_guess_frame_rate) \
    F(av_interleaved_write_frame) \
    F(av_log_set_level) \
    F(av_malloc) \
    F(av_opt_set) \
    F(av_opt_set_int) \
    F(av_packet_alloc) \
    F(av_packet_free) \
    F(av_packet_rescale_ts) \
    F(av_packet_unref) \
    F(av_pix_fmt_desc_get) \
    F(av_read_frame) \
    F(av_seek_frame) \
    F(av_strdup) \
    F(av_stream_get_side_data) \
    F(av_strerror) \
    F(av_write_trailer) \
    F(avcodec_alloc_context3) \
    F(avcodec_find_decoder) \
    F(avcodec_find_encoder_by_name) \
    F(avcodec_free_context) \
    F(avcodec_get_name) \
    F(avcodec_open2) \
    F(avcodec_parameters_copy) \
    F(avcodec_parameters_from_context) \
    F(avcodec_parameters_to_context) \
    F(avcodec_receive_frame) \
    F(avcodec_receive_packet) \
    F(avcodec_send_frame) \
    F(avcodec_send_packet) \
    F(avformat_alloc_context) \
    F(avformat_alloc_output_context2) \
    F(avformat_close_input) \
    F(avformat_find_stream_info) \
    F(avformat_free_context) \
    F(avformat_new_stream) \
    F(avformat_open_input) \
    F(avformat_query_codec) \
    F(avformat_write_header) \
    F(avio_alloc_context) \
    F(avio_closep) \
    F(avio_context_free) \
    F(avio_feof) \
    F(avio_open) \
    F(sws_alloc_context) \
    F(sws_freeContext) \
    F(sws_getCoefficients) \
    F(sws_init_context) \
    F(sws_isSupportedInput) \
    F(sws_scale_frame) \
    F(sws_setColorspaceDetails) \

#define FACET_FFMPEG_MEMBER(name) __typeof__(name) *name;
/// FFmpeg's functions, resolved from the loaded libraries (all NULL until `facet_ffmpeg_load` succeeds).
struct FacetFFmpegAPI {
    FACET_FFMPEG_FUNCTIONS(FACET_FFMPEG_MEMBER)
};
#undef FACET_FFMPEG_MEMBER

/// Opens FFmpeg's libraries and resolves every function, once per process (thread-safe). Returns 0, or -1
/// with the reason (the library or function that is missing) in `message`.
int facet_ffmpeg_load(char *message, int capacity);

/// The function table: filled once `facet_ffmpeg_load` has returned 0.
const struct FacetFFmpegAPI *facet_ffmpeg_api(void);

#endif
